"""The paper's published numbers for Tables 1-5, as data (transcribed from the paper's §5).

Values are kept as the strings printed in the paper, so the published precision (``"0.10"`` vs
``"0.100"``) survives; :meth:`PaperTable.value` turns them into floats. Row labels are the paper's
own and match the experiment registry's ``feeds`` (``"T1:Ours"`` feeds row ``"Ours"`` of Table 1);
``tests/eval/test_paper_numbers.py`` checks that every feed names a row here.

Column datasets use the study's test-set names: ``val`` is the FFHQ + LPFF validation split,
``celebahq`` CelebA-HQ, ``mead`` the multi-view MEAD set. Metric keys are those of the results
JSON (:mod:`dualinv.eval.results`).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping


@dataclass(frozen=True)
class Column:
    """One numeric column of a paper table: a metric on a test set."""

    dataset: str
    """Test set whose metrics JSON holds the value (``val``, ``celebahq``, ``mead``)."""
    metric: str
    """Metric key in that JSON (``l2``, ``lpips``, ``id``, ``fid``, ``time_sec``, ``lpips_60``...)."""
    label: str
    """Header as printed in the paper."""
    higher_is_better: bool = False
    """The paper's arrow (ID is up, everything else down)."""

    @property
    def key(self) -> str:
        return f"{self.dataset}/{self.metric}"


@dataclass(frozen=True)
class PaperRow:
    """One row of a paper table with its published values, one per column (``None`` = not printed)."""

    label: str
    """Row label as printed; the registry feed is ``f"T{table}:{label}"``."""
    values: tuple[str | None, ...]
    category: str = ""
    """Group printed before the row (Table 1, 2: ``Optimization``/``Encoder``)."""


LABEL_SEPARATOR = " / "
"""Separates the parts of a row label printed in several label columns (Table 4: train data / projection)."""


@dataclass(frozen=True)
class PaperTable:
    number: int
    caption: str
    columns: tuple[Column, ...]
    rows: tuple[PaperRow, ...]
    label_headers: tuple[str, ...] = ("Method",)
    """Headers of the row-label columns as printed (Table 3: none; Table 4: "Train data", "Proj.")."""

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row.values) != len(self.columns):
                raise ValueError(f"Table {self.number} row {row.label!r}: {len(row.values)} values "
                                 f"for {len(self.columns)} columns")
            if len(self.label_parts(row.label)) != len(self.label_headers):
                raise ValueError(f"Table {self.number} row {row.label!r} does not split into "
                                 f"{len(self.label_headers)} label columns {self.label_headers}")

    def label_parts(self, label: str) -> tuple[str, ...]:
        """A row label as the paper prints it across the label columns."""
        return tuple(label.split(LABEL_SEPARATOR)) if len(self.label_headers) > 1 else (label,)

    @property
    def has_categories(self) -> bool:
        """Whether rows are grouped (Tables 1, 2: Optimization / Encoder)."""
        return any(row.category for row in self.rows)

    def row(self, label: str) -> PaperRow:
        for row in self.rows:
            if row.label == label:
                return row
        raise KeyError(f"Table {self.number} has no row {label!r}")

    def value(self, label: str, column: Column) -> float | None:
        """The published number of row ``label`` in ``column`` as a float (``None`` if not printed)."""
        text = self.row(label).values[self.columns.index(column)]
        return None if text is None else float(text)

    def published(self, label: str, column: Column) -> str | None:
        """The published number as printed (keeps its precision)."""
        return self.row(label).values[self.columns.index(column)]


def _reconstruction_columns(dataset: str) -> tuple[Column, ...]:
    return (
        Column(dataset, "l2", "L2"),
        Column(dataset, "lpips", "LPIPS"),
        Column(dataset, "id", "ID", higher_is_better=True),
        Column(dataset, "fid", "FID"),
    )


_ABLATION_COLUMNS = (
    Column("val", "lpips", "LPIPS"),
    Column("val", "id", "ID", higher_is_better=True),
    Column("val", "fid", "FID"),
)

TABLE_1 = PaperTable(
    number=1,
    caption="Quantitative scores on various test sets (FFHQ + LPFF validation, CelebA-HQ; time per image).",
    columns=(*_reconstruction_columns("val"), *_reconstruction_columns("celebahq"),
             Column("val", "time_sec", "Time sec")),
    rows=(
        PaperRow("W+ optim.", ("0.035", "0.17", "0.57", "65.30", "0.049", "0.19", "0.49", "63.57", "49.19"),
                 category="Optimization"),
        PaperRow("PTI", ("0.019", "0.11", "0.89", "59.40", "0.033", "0.13", "0.86", "57.85", "86.52"),
                 category="Optimization"),
        PaperRow("pSp", ("0.028", "0.15", "0.77", "90.52", "0.033", "0.17", "0.70", "88.20", "0.08"),
                 category="Encoder"),
        PaperRow("e4e", ("0.064", "0.24", "0.52", "82.99", "0.080", "0.26", "0.42", "84.70", "0.05"),
                 category="Encoder"),
        PaperRow("TriplaneNetv2", ("0.017", "0.10", "0.86", "98.97", "0.020", "0.11", "0.80", "99.02", "0.17"),
                 category="Encoder"),
        PaperRow("GOAE", ("0.015", "0.09", "0.87", "168.96", "0.017", "0.10", "0.86", "173.64", "0.15"),
                 category="Encoder"),
        PaperRow("Ours", ("0.017", "0.10", "0.87", "65.44", "0.021", "0.12", "0.84", "62.58", "0.37"),
                 category="Encoder"),
    ),
)

TABLE_2 = PaperTable(
    number=2,
    caption="Quantitative scores on multi-view MEAD (frontal input, renders at ±60° and ±30° yaw).",
    columns=(
        Column("mead", "lpips_60", "LPIPS ±60°"),
        Column("mead", "lpips_30", "LPIPS ±30°"),
        Column("mead", "id_60", "ID ±60°", higher_is_better=True),
        Column("mead", "id_30", "ID ±30°", higher_is_better=True),
        Column("mead", "fid_60", "FID ±60°"),
        Column("mead", "fid_30", "FID ±30°"),
    ),
    rows=(
        PaperRow("W+ opt.", ("0.249", "0.200", "0.570", "0.558", "48.473", "43.875"), category="Optim."),
        PaperRow("PTI", ("0.346", "0.262", "0.515", "0.548", "66.399", "53.977"), category="Optim."),
        PaperRow("pSp", ("0.245", "0.189", "0.640", "0.650", "49.364", "48.098"), category="Encoder"),
        PaperRow("e4e", ("0.318", "0.265", "0.544", "0.462", "67.399", "70.854"), category="Encoder"),
        PaperRow("Tpn.v2", ("0.248", "0.192", "0.658", "0.663", "48.937", "46.493"), category="Encoder"),
        PaperRow("GOAE", ("0.296", "0.249", "0.654", "0.660", "87.644", "92.758"), category="Encoder"),
        PaperRow("Ours", ("0.223", "0.178", "0.706", "0.726", "47.207", "43.822"), category="Encoder"),
    ),
)

TABLE_3 = PaperTable(
    number=3,
    caption="Ablation on the occlusion-aware discriminator D (FFHQ + LPFF validation).",
    columns=_ABLATION_COLUMNS,
    label_headers=("",),
    rows=(
        PaperRow("No D", ("0.10", "0.87", "89.50")),
        PaperRow("D w image domain", ("0.17", "0.67", "72.86")),
        PaperRow("D w/o triplane occ.", ("0.15", "0.70", "66.24")),
        PaperRow("D w/ triplane occ.", ("0.14", "0.75", "64.02")),
    ),
)

TABLE_4 = PaperTable(
    number=4,
    caption="Ablation on training data and latent space (FFHQ + LPFF validation).",
    columns=_ABLATION_COLUMNS,
    label_headers=("Train data", "Proj."),
    rows=(
        PaperRow("Real img. / Z", ("0.29", "0.31", "45.79")),
        PaperRow("Real img. / Z+", ("0.22", "0.60", "76.54")),
        PaperRow("Real img. / W+", ("0.10", "0.86", "98.97")),
        PaperRow("Z+ gens. / W+", ("0.27", "0.25", "46.93")),
        PaperRow("Real imgs. + Z+ / W+", ("0.10", "0.87", "89.50")),
    ),
)

TABLE_5 = PaperTable(
    number=5,
    caption="Ablation on the dual encoder (FFHQ + LPFF validation).",
    columns=_ABLATION_COLUMNS,
    rows=(
        PaperRow("E₁", ("0.10", "0.87", "89.50")),
        PaperRow("E₂", ("0.14", "0.75", "64.02")),
        PaperRow("Dual", ("0.10", "0.87", "65.44")),
    ),
)

PAPER_TABLES: Mapping[int, PaperTable] = MappingProxyType({
    table.number: table for table in (TABLE_1, TABLE_2, TABLE_3, TABLE_4, TABLE_5)
})
"""Tables 1-5 by number."""
