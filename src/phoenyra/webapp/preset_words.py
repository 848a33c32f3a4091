# ruff: noqa: E501 - the texts are the presets' own, one string each
"""The device presets' titles, notes and limits (``telemetry/presets.py``) in the page's
language.

The exchange describes its presets in English (``/api/telemetry/presets``); the telemetry page
shows them through the catalogue. The texts are repeated below only so that ``scripts/i18n``
extracts them; a test checks that every preset text is here, so a changed preset
text is noticed instead of silently shown in English.
"""

from __future__ import annotations

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from ..telemetry.presets import describe

CATALOGUED = (
    _l("Fronius Symo/Primo GEN24 Plus with battery, via SunSpec"),
    _l(
        "Addresses are found by SunSpec discovery (marker 'SunS' at 40000), so firmware that moves models still works. Set the inverter's SunSpec model type to 'int + SF'. The simulator follows a simulator-only setpoint at holding 1000 (s32, W, + discharging); the real GEN24 is steered through model 124 (StorCtl_Mod, InWRte/OutWRte), which is not mapped."
    ),
    _l("Generic Modbus BESS (the spec's simple case)"),
    _l(
        "SoC u16 in 0.1 %, power s16 in kW (+ discharging), temperature s16 in 0.1 °C. Status (3) and capacity in 0.01 MWh (4) are optional. The simulator follows a power setpoint written to holding register 10 (s16, kW, + discharging)."
    ),
    _l("SMA battery inverter (Sunny Island, Sunny Boy Storage, Sunny Tripower Storage)"),
    _l(
        "Registers are read with FC 3. SMA sends 0x80000000 / 0xFFFFFFFF for 'no value'; these are refused as bad_payload. Setpoint 40149 (S32, W, + discharging) is honoured by a real device only after 40151 is set to 802 and must be refreshed within the device's communication timeout; the simulator follows 40149 directly."
    ),
    _l("Generic SunSpec storage (model 802 battery base)"),
    _l(
        "Discovery reads the 'SunS' marker at 40000, then 50000, then 0, and walks the (ID, L) chain to the end marker 0xFFFF. Other storage models: 124 (basic storage controls, see the fronius-gen24 preset) and 713 (DER storage capacity: SoC, SoH, WHRtg, WHAvail) are alternatives for devices without 802; this preset needs 802. The simulator follows a simulator-only setpoint at holding 1000 (s32, W, + discharging)."
    ),
    _l("Tesla Powerwall (local HTTPS API, no Modbus)"),
    _l(
        "The Powerwall has no public Modbus interface, so this preset has no register map and cannot be read by the Modbus source or served by the simulator. A reader must use the local HTTPS API: state of energy from /api/system_status/soe (field 'percentage'), battery power from /api/meters/aggregates (battery.instant_power, W, + discharging). The API exposes no battery temperature."
    ),
    _l("Victron GX device (Cerbo GX, Venus GX, CCGX), battery service"),
    _l(
        "Victron counts battery power positive when charging, so the map uses a negative scale to give Phoenyra's + discharging. The simulator follows a setpoint in holding register 37 (int16, W, + = charging as Victron's ESS 'power setpoint phase 1')."
    ),
    _l(
        "Power is the inverter's AC power (model 103 W: PV and battery together), not the battery's own DC power (model 160 modules 3/4)."
    ),
    _l(
        "Temperature is the inverter cabinet temperature (model 103 TmpCab); firmware that reports it as not implemented (0x8000) yields bad_payload. Not verified on a device."
    ),
    _l("Power is limited to ±32.767 MW by the s16 kW encoding."),
    _l(
        "Power is the inverter's AC active power (30775), which for a battery inverter is the battery's exchange with the grid; charge/discharge DC power (31393/31395) is not mapped."
    ),
    _l(
        "SMA refuses requests that span unassigned registers, so max_gap is 0 (one request per value)."
    ),
    _l(
        "Model 802 has no temperature point; temperature is taken from inverter model 103 (cabinet), so the device must also expose model 103."
    ),
    _l(
        "The sign of 802 W is taken as + discharging (DER convention); verify with a known charge on site and flip the scale if not."
    ),
    _l("Undocumented API: Tesla may change or lock it with any firmware update."),
    _l(
        "No temperature is available; a reading needs one, so an HTTPS reader must state how it fills that gap."
    ),
    _l(
        "On a real GX the ESS setpoint (register 37) lives on the VE.Bus unit id (e.g. 227/228), not on the battery's unit id; the simulator serves it on the battery's unit."
    ),
    _l(
        "int16 W limits power to ±32.7 kW: this preset is for residential/commercial Victron systems."
    ),
)


def preset_texts() -> list[str]:
    """Every preset's title, notes and limits, as the exchange describes them."""
    out = []
    for preset in describe():
        out += [preset[k] for k in ("title", "notes") if preset.get(k)]
        out += list(preset.get("limits") or ())
    return out


def preset_words() -> dict[str, str]:
    """Each preset text in English → in the page's language."""
    return {text: gettext(text) for text in preset_texts()}
