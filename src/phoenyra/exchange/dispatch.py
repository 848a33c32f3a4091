"""What the battery must do to deliver what its accounts have traded: its dispatch plan.

The risk check assumes every fill is delivered (a quarter-hour product over its quarter-hour,
a continuous-book fill at rated power from the trade, one after another) and frees the room as
the battery's readings show it. The plan below is that same assumption as power over time, for
the telemetry service to write to the battery's power setpoint (``dispatch`` in the Modbus
configuration) or for the site's EMS to read: + discharging (sold), − charging (bought), MW.

Where deliveries overlap (a continuous fill running into a product's quarter-hour) their powers
add up; a sum beyond the rated power is cut to it (``limited``) — the battery cannot do more.
"""

from __future__ import annotations

from ..core.risk import BatteryRisk, fill_deliveries, net_power

Interval = tuple[float, float, float]  # start, end (epoch s), power (MW, + discharging)


def plan(book: BatteryRisk, rated_power_mw: float, now: float) -> tuple[list[Interval], bool]:
    """The power the battery's trades ask for from ``now`` on, as consecutive intervals of
    constant power (idle gaps included between deliveries), and whether any was cut to the
    rated power."""
    # + discharging: a fill's bought MWh is power taken in.
    deliveries = [(begin, end, -bought) for begin, end, bought in fill_deliveries(book)]
    horizon = max([now] + [end for _, end, bought in deliveries if bought])
    out: list[Interval] = []
    limited = False
    for a, b, power in net_power(deliveries, now, horizon):
        if abs(power) > rated_power_mw + 1e-9:
            power, limited = (rated_power_mw if power > 0 else -rated_power_mw), True
        power = round(power, 9)
        if out and out[-1][2] == power and out[-1][1] == a:
            out[-1] = (out[-1][0], b, power)
        else:
            out.append((a, b, power))
    while out and out[-1][2] == 0.0:
        out.pop()  # idle after the last delivery: nothing to say
    return out, limited


def power_at(intervals: list[Interval], t: float) -> float:
    """The planned power at ``t`` (0 outside every interval)."""
    for start, end, mw in intervals:
        if start <= t < end:
            return mw
    return 0.0
