"""The dashboard's programme editor: every field of a home programme in a form, opened from and
saved to the TOML file a clinician keeps (analysis/programme.py, docs/programme.md). The form's
limits are the schema's, and what it builds is validated like a file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6 import QtWidgets

from analysis.programme import (
    LIMITS,
    Programme,
    ProgrammeError,
    RangeRule,
    SymptomRule,
    Tempo,
    load_programme,
)


class ProgrammeDialog(QtWidgets.QDialog):
    """Edit a programme; ``programme`` holds the accepted one (None if cancelled)."""

    def __init__(
        self, parent: QtWidgets.QWidget | None, programme: Programme | None, folder: Path
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Home programme")
        self.folder = Path(folder)
        self.programme: Programme | None = None
        form = QtWidgets.QFormLayout()
        self.name = QtWidgets.QLineEdit()
        self.by = QtWidgets.QLineEdit()
        self.by.setPlaceholderText("initials or role, no names")
        self.leg = QtWidgets.QComboBox()
        self.leg.addItems(["right", "left"])
        self.technique = QtWidgets.QComboBox()
        self.technique.addItems(["slider", "tensioner"])
        self.sets = self._int("sets")
        self.reps = self._int("reps_per_set")
        self.rest = self._num("rest_between_sets_s", 5)
        self.per_week = self._int("sessions_per_week")
        self.out_s = self._num("tempo.out_s", 0.1)
        self.back_s = self._num("tempo.back_s", 0.1)
        self.tol = self._num("tempo.tolerance_s", 0.1)
        self.target = self._num("range.knee_target_deg", 1)
        self.use_cap = QtWidgets.QCheckBox("cap the knee range at")
        self.cap = self._num("range.knee_cap_deg", 1)
        self.step = self._num("range.cap_step_deg", 1)
        self.stop_above = self._int("symptoms.stop_above")
        self.max_rise = self._int("symptoms.max_rise")
        self.notes = QtWidgets.QLineEdit()
        cap_row = QtWidgets.QHBoxLayout()
        cap_row.addWidget(self.use_cap)
        cap_row.addWidget(self.cap)
        for label, w in (
            ("Name", self.name), ("Prescribed by", self.by), ("Leg", self.leg),
            ("Technique", self.technique), ("Sets", self.sets), ("Reps per set", self.reps),
            ("Rest between sets, s", self.rest), ("Sessions per week", self.per_week),
            ("Glide out, s", self.out_s), ("Glide back, s", self.back_s),
            ("Tempo tolerance ± s", self.tol), ("Knee range to reach, °", self.target),
            ("Knee range cap", cap_row), ("A symptom rise lowers the cap by, °", self.step),
            ("Stop above (0–10)", self.stop_above), ("A rise of this means reduce", self.max_rise),
            ("Notes", self.notes),
        ):  # fmt: skip
            form.addRow(label, w)
        self.error = QtWidgets.QLabel("")
        self.error.setStyleSheet("color: #c62828;")
        self.error.setWordWrap(True)
        buttons = QtWidgets.QDialogButtonBox()
        self.open_button = buttons.addButton("Open…", QtWidgets.QDialogButtonBox.ActionRole)
        self.save_button = buttons.addButton("Save…", QtWidgets.QDialogButtonBox.ActionRole)
        self.ok_button = buttons.addButton(
            "Guide this session", QtWidgets.QDialogButtonBox.AcceptRole
        )
        buttons.addButton(QtWidgets.QDialogButtonBox.Cancel)
        self.open_button.clicked.connect(self._open_clicked)
        self.save_button.clicked.connect(self._save_clicked)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        lay = QtWidgets.QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.error)
        lay.addWidget(buttons)
        self.show_programme(programme or Programme())

    def _int(self, key: str) -> QtWidgets.QSpinBox:
        w = QtWidgets.QSpinBox()
        lo, hi = LIMITS[key]
        w.setRange(int(lo), int(hi))
        return w

    def _num(self, key: str, step: float) -> QtWidgets.QDoubleSpinBox:
        w = QtWidgets.QDoubleSpinBox()
        lo, hi = LIMITS[key]
        w.setRange(lo, hi)
        w.setSingleStep(step)
        w.setDecimals(1)
        return w

    def show_programme(self, p: Programme) -> None:
        """Fill the form from ``p``."""
        self.name.setText(p.name)
        self.by.setText(p.prescribed_by)
        self.leg.setCurrentText(p.leg)
        self.technique.setCurrentText(p.technique)
        self.sets.setValue(p.sets)
        self.reps.setValue(p.reps_per_set)
        self.rest.setValue(p.rest_between_sets_s)
        self.per_week.setValue(p.sessions_per_week)
        self.out_s.setValue(p.tempo.out_s)
        self.back_s.setValue(p.tempo.back_s)
        self.tol.setValue(p.tempo.tolerance_s)
        self.target.setValue(p.range.knee_target_deg)
        self.use_cap.setChecked(p.range.knee_cap_deg is not None)
        self.cap.setValue(p.range.knee_cap_deg or max(p.range.knee_target_deg + 20, 5.0))
        self.step.setValue(p.range.cap_step_deg)
        self.stop_above.setValue(p.symptoms.stop_above)
        self.max_rise.setValue(p.symptoms.max_rise)
        self.notes.setText(p.notes)

    def built(self) -> Programme:
        """The programme the form says, validated as a file would be (ProgrammeError)."""
        p = replace(
            Programme(),
            name=self.name.text().strip(),
            prescribed_by=self.by.text().strip(),
            leg=self.leg.currentText(),
            technique=self.technique.currentText(),
            sets=self.sets.value(),
            reps_per_set=self.reps.value(),
            rest_between_sets_s=self.rest.value(),
            sessions_per_week=self.per_week.value(),
            tempo=Tempo(self.out_s.value(), self.back_s.value(), self.tol.value()),
            range=RangeRule(
                self.target.value(),
                self.cap.value() if self.use_cap.isChecked() else None,
                self.step.value(),
            ),
            symptoms=SymptomRule(self.stop_above.value(), self.max_rise.value()),
            notes=self.notes.text().strip(),
        )
        return Programme.from_dict(p.to_dict(), "the form")

    def _accept(self) -> None:
        try:
            self.programme = self.built()
        except ProgrammeError as e:
            self.error.setText(str(e).replace("the form: ", "", 1))
            return
        self.accept()

    def open_file(self, path: Path) -> bool:
        try:
            self.show_programme(load_programme(path))
        except ProgrammeError as e:
            self.error.setText(str(e))
            return False
        self.error.setText("")
        return True

    def save_file(self, path: Path) -> bool:
        try:
            text = self.built().to_toml()
            path.write_text(text, encoding="utf-8")
        except (ProgrammeError, OSError) as e:
            self.error.setText(str(e).replace("the form: ", "", 1))
            return False
        self.error.setText(f"saved {path}")
        return True

    def _open_clicked(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open a programme", str(self.folder), "Programmes (*.toml);;All files (*)",
            options=QtWidgets.QFileDialog.DontUseNativeDialog,
        )  # fmt: skip
        if path:
            self.open_file(Path(path))

    def _save_clicked(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Save the programme", str(self.folder / "programme.toml"), "TOML (*.toml)",
            options=QtWidgets.QFileDialog.DontUseNativeDialog,
        )  # fmt: skip
        if path:
            self.save_file(Path(path))
