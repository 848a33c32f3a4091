"""core.battery: SoC dynamics with efficiency and limits, and the thermal model, by hand."""

from __future__ import annotations

import math

import pytest

from phoenyra.core.battery import BatteryParams, BatteryState, step

P = BatteryParams(
    capacity_mwh=2.0,
    max_charge_mw=1.0,
    max_discharge_mw=1.0,
    charge_efficiency=0.9,
    discharge_efficiency=0.8,
    ambient_c=20.0,
    thermal_rise_c_per_mw=10.0,
    thermal_time_constant_s=600.0,
)


def test_discharging_takes_power_over_efficiency_from_the_cells() -> None:
    # 0.8 MW for 1 h delivers 0.8 MWh, takes 0.8 / 0.8 = 1.0 MWh = 50 % of 2 MWh.
    s = step(P, BatteryState(soc_percent=80.0, temperature_c=20.0), 3600.0, 0.8)
    assert s.power_mw == pytest.approx(0.8)
    assert s.soc_percent == pytest.approx(30.0)


def test_charging_stores_power_times_efficiency() -> None:
    # −0.5 MW for 1 h stores 0.5 · 0.9 = 0.45 MWh = 22.5 %.
    s = step(P, BatteryState(soc_percent=10.0, temperature_c=20.0), 3600.0, -0.5)
    assert s.power_mw == pytest.approx(-0.5)
    assert s.soc_percent == pytest.approx(32.5)


def test_setpoint_is_clamped_to_the_power_ratings() -> None:
    s = step(P, BatteryState(soc_percent=50.0), 36.0, 5.0)
    assert s.power_mw == pytest.approx(1.0)
    s = step(P, BatteryState(soc_percent=50.0), 36.0, -5.0)
    assert s.power_mw == pytest.approx(-1.0)


def test_an_empty_battery_delivers_only_what_is_left() -> None:
    # 1 % of 2 MWh = 0.02 MWh in the cells → 0.016 MWh at the terminals over 1 h.
    s = step(P, BatteryState(soc_percent=1.0), 3600.0, 1.0)
    assert s.power_mw == pytest.approx(0.016)
    assert s.soc_percent == pytest.approx(0.0, abs=1e-12)
    assert step(P, s, 3600.0, 1.0).power_mw == pytest.approx(0.0, abs=1e-12)


def test_a_full_battery_takes_no_more_charge() -> None:
    # 1 % room = 0.02 MWh; at η 0.9 that needs 0.0222… MWh from the grid over 1 h.
    s = step(P, BatteryState(soc_percent=99.0), 3600.0, -1.0)
    assert s.power_mw == pytest.approx(-0.02 / 0.9)
    assert s.soc_percent == pytest.approx(100.0)
    assert step(P, s, 60.0, -1.0).power_mw == pytest.approx(0.0, abs=1e-12)


def test_temperature_relaxes_towards_ambient_plus_heating() -> None:
    # Target 20 + 10 · 1 MW = 30 °C; after one time constant 1 − e⁻¹ of the way from 20.
    s = step(P, BatteryState(soc_percent=50.0, temperature_c=20.0), 600.0, 1.0)
    assert s.temperature_c == pytest.approx(30.0 - 10.0 * math.exp(-1.0))
    # Idle, a hot battery cools towards ambient.
    cooled = step(P, BatteryState(soc_percent=50.0, temperature_c=40.0), 600.0, 0.0)
    assert cooled.temperature_c == pytest.approx(20.0 + 20.0 * math.exp(-1.0))


def test_invalid_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        BatteryParams(charge_efficiency=1.5)
    with pytest.raises(ValueError):
        BatteryParams(capacity_mwh=0)
