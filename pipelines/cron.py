"""Cron expressions as KFP's scheduler (robfig/cron, seconds first) reads them."""

import re

from qtrain_kfp.pipelines.errors import KfpArgumentError

_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_WEEKDAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
_CRON_FIELDS = (
    ("second", 0, 59, ()),
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day-of-month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 6, _WEEKDAYS),
)
_DESCRIPTORS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_EVERY = re.compile(r"@every (\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+")


def kfp_cron(expression: str) -> str:
    """The 6-field cron KFP expects (seconds first) for a 5- or 6-field cron, or an error line.

    KFP's scheduler (robfig/cron) reads 5 fields as *seconds* to month, so "0 2 * * *" sent
    unchanged would fire at minute 2 of every hour: a 5-field cron gets a seconds field of 0.
    """
    text = " ".join(expression.split())
    if text.lower() in _DESCRIPTORS or _EVERY.fullmatch(text):
        return text.lower() if text.lower() in _DESCRIPTORS else text
    fields = text.split(" ") if text else []
    if len(fields) == 5:
        fields = ["0", *fields]
    elif len(fields) != 6:
        raise KfpArgumentError(
            f"--cron {expression!r} has {len(fields)} fields: give 5 (minute hour day-of-month "
            "month day-of-week), 6 (seconds first), or @hourly/@daily/@weekly/@every 6h"
        )
    for value, field in zip(fields, _CRON_FIELDS, strict=True):
        _check_cron_field(expression, value, *field)
    return " ".join(fields)


def _check_cron_field(
    expression: str, value: str, name: str, low: int, high: int, names: list[str] | tuple[()]
) -> None:
    def problem(why: str) -> KfpArgumentError:
        return KfpArgumentError(f"--cron {expression!r}: {name} {value!r} {why}")

    for part in value.split(","):
        base, slash, step = part.partition("/")
        if slash and not (step.isdigit() and int(step) > 0):
            raise problem(f"has an invalid step {step!r}")
        if base in ("*", "?"):
            if base == "?" and name not in ("day-of-month", "day-of-week"):
                raise problem("uses '?', allowed only for day-of-month and day-of-week")
            continue
        bounds = [_cron_number(bound, names) for bound in base.split("-")]
        if len(bounds) > 2 or any(n is None or not low <= n <= high for n in bounds):
            raise problem(f"is not a value, range or list within {low}-{high}")
        if len(bounds) == 2 and bounds[0] > bounds[1]:  # type: ignore[operator]
            raise problem("is a backwards range")


def _cron_number(text: str, names: list[str] | tuple[()]) -> int | None:
    if text.isdigit():
        return int(text)
    if text.upper() in names:
        return names.index(text.upper()) + (1 if names is _MONTHS else 0)
    return None
