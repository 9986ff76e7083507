"""The home page's charts as geometry for server-rendered SVG (no script, no inline style:
colours come from classes in app.css), each with the rows of the table printed beside it,
so what the chart draws can be read, and checked, as text."""

from __future__ import annotations

from dataclasses import dataclass, field

from dashboard.domain.money import MoneyError, format_minor
from dashboard.services.overview.home import CurrencyFigures, HomeFigures

WIDTH = 400  # the viewBox: the SVG scales to its box, 390 px phones included
HEIGHT = 180
LEFT, RIGHT, TOP, BOTTOM = 8, 8, 22, 22


@dataclass(frozen=True)
class Bar:
    css: str
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass
class Chart:
    id: str
    title: str
    summary: str  # what the chart shows, for screen readers (the table has the figures)
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    top_label: str = ""
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    baseline: float = HEIGHT - BOTTOM


def money(amount: int, currency: str) -> str:
    try:
        return format_minor(amount, currency)
    except MoneyError:
        return f"{amount:,} (minor units) {currency}"


def seconds(value: float | None) -> str:
    """A delay for people: "0.4 s", "12 s", "3 min", "2 h"; "—" for none measured."""
    if value is None:
        return "—"
    if value < 10:
        return f"{value:.1f} s"
    if value < 120:
        return f"{value:.0f} s"
    if value < 7200:
        return f"{value / 60:.0f} min"
    return f"{value / 3600:.0f} h"


def charts_for(figures: HomeFigures) -> dict[str, list[Chart]]:
    """Per currency: daily captured vs refunded, and the daily authorization rate."""
    return {
        currency.currency: [_money_chart(currency), _rate_chart(currency)]
        for currency in figures.currencies
    }


def _slots(count: int) -> float:
    return (WIDTH - LEFT - RIGHT) / count


def _x_labels(currency: CurrencyFigures) -> list[tuple[float, str]]:
    slot = _slots(len(currency.days))
    picks = (0, len(currency.days) // 2, len(currency.days) - 1)
    return [
        (LEFT + slot * (n + 0.5), currency.days[n].day.strftime("%d %b").lstrip("0")) for n in picks
    ]


def _money_chart(currency: CurrencyFigures) -> Chart:
    code = currency.currency
    chart = Chart(
        id=f"chart-money-{code.lower()}",
        title=f"Captured and refunded per day, {code}",
        summary=f"Bars per day for the last 30 days: captured and refunded in {code}.",
        columns=["Day", "Captured", "Refunded"],
        legend=[("bar-captured", "Captured"), ("bar-refunded", "Refunded")],
        x_labels=_x_labels(currency),
    )
    peak = max([max(day.captured, day.refunded) for day in currency.days] + [0])
    # Nothing captured or refunded in 30 days: the scale is labelled as such, not "$0.01".
    chart.top_label = money(peak, code) if peak else "none in 30 days"
    peak = peak or 1
    slot = _slots(len(currency.days))
    plot = HEIGHT - TOP - BOTTOM
    for n, day in enumerate(currency.days):
        shown = day.day.isoformat()
        chart.rows.append([shown, money(day.captured, code), money(day.refunded, code)])
        for offset, css, amount, word in (
            (0.1, "bar-captured", day.captured, "captured"),
            (0.5, "bar-refunded", day.refunded, "refunded"),
        ):
            if amount <= 0:
                continue
            height = max(plot * amount / peak, 1.0)
            chart.bars.append(
                Bar(
                    css=css,
                    x=round(LEFT + slot * (n + offset), 2),
                    y=round(HEIGHT - BOTTOM - height, 2),
                    width=round(slot * 0.4, 2),
                    height=round(height, 2),
                    title=f"{shown}: {money(amount, code)} {word}",
                )
            )
    return chart


def _rate_chart(currency: CurrencyFigures) -> Chart:
    code = currency.currency
    chart = Chart(
        id=f"chart-rate-{code.lower()}",
        title=f"Authorization rate per day, {code}",
        summary=f"Bars per day for the last 30 days: the share of payment attempts in {code} "
        "the bank authorized; no bar where there was no attempt.",
        columns=["Day", "Authorized", "Attempts", "Rate"],
        legend=[("bar-rate", "Authorized, % of attempts")],
        top_label="100%",
        x_labels=_x_labels(currency),
    )
    slot = _slots(len(currency.days))
    plot = HEIGHT - TOP - BOTTOM
    for n, day in enumerate(currency.days):
        shown = day.day.isoformat()
        rate = day.rate
        chart.rows.append(
            [shown, str(day.authorized), str(day.attempts), "—" if rate is None else f"{rate:.0f}%"]
        )
        if rate is None:
            continue
        height = max(plot * rate / 100, 1.0)
        chart.bars.append(
            Bar(
                css="bar-rate",
                x=round(LEFT + slot * (n + 0.15), 2),
                y=round(HEIGHT - BOTTOM - height, 2),
                width=round(slot * 0.7, 2),
                height=round(height, 2),
                title=f"{shown}: {rate:.0f}% of {day.attempts} attempts authorized",
            )
        )
    return chart
