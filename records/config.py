"""[records]: check-round templates, photo and attachment limits, how often overdue work is looked for."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class RecordSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plans_file: Path | None = Field(default=None, description="emergency plans (应急预案) YAML, or a directory of "
                                    "SITE.yaml files (one per site); without one, alerts activate no plan and nothing "
                                    "is drilled. The sample campus's: alerts/sample_plans.yaml")
    rounds_file: Path | None = Field(default=None, description="check-round templates (YAML); default: the "
                                     "built-in ones (records/default_rounds.yaml)")
    photo_max_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, description="one photo past this is refused")
    photo_max_pixels: int = Field(default=50_000_000, ge=10_000, description="a photo larger than this (width × "
                                  "height) is refused: a decompression bomb costs memory, not bytes")
    attachment_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, description="a laboratory's PDF past this "
                                      "is refused")
    upload_max_bytes: int = Field(default=48 * 1024 * 1024, ge=1024, description="one upload request (several "
                                  "photos) past this is 413; other requests keep [api] max_body_bytes")
    check_s: float = Field(default=300, ge=0, description="how often overdue rounds and tests are looked for "
                           "(0: never, e.g. on an API host beside another that does)")
    self_test_days: int = Field(default=14, ge=1, le=366, description="drinking water self-tests: every this many days")
    grace_days: int = Field(default=0, ge=0, le=30, description="days past a due date before it is overdue")
    upload_grace_h: float = Field(default=24, ge=0.01, le=24 * 90, description="hours an uploaded photo or PDF "
                                  "that no record uses is kept (time to send the record that names it); then "
                                  "the file sweep removes it")
    files_sweep_s: float = Field(default=3600, ge=0, description="how often unused uploads are swept (at start "
                                 "and then this often; 0: never, e.g. on an API host beside another that does)")
