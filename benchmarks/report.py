"""One benchmark figure and the Markdown table they are reported in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Figure:
    name: str
    value: float
    unit: str
    ratio: float | None = None
    target: str = ""
    note: str = ""

    def row(self) -> str:
        ratio = f"{self.ratio:.2f}x" if self.ratio is not None else ""
        value = f"{self.value:.4g}" if self.value < 1000 else f"{self.value:,.0f}"
        return f"| {self.name} | {value} {self.unit} | {ratio} | {self.target} | {self.note} |"


def table(title: str, figures: list[Figure]) -> str:
    lines = [
        f"### {title}",
        "",
        "| measure | value | ratio to floor | target | note |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [f.row() for f in figures]
    return "\n".join(lines) + "\n"
