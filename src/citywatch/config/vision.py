"""Detector, quality gate and embedder settings; backends chosen by a `type` key."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from citywatch.config.base import Section


class YuNetSettings(Section):
    type: Literal["yunet"] = "yunet"
    model_file: str = Field("face_detection_yunet_2023mar.onnx", description="File name inside models_dir.")
    score_threshold: float = Field(
        0.8, ge=0.05, le=1.0, description="Detector confidence floor (dog faces score up to 0.77)."
    )
    nms_threshold: float = Field(0.3, gt=0, le=1.0, description="Overlap above which boxes are merged.")
    max_side_px: int = Field(
        1280, ge=160, le=8192, description="Images are shrunk so their longer side is at most this."
    )
    min_side_px: int = Field(
        320, ge=64, le=2048, description="Smaller images (tight crops) are padded up to this."
    )


class HogSettings(Section):
    type: Literal["hog"] = "hog"
    upsample: int = Field(1, ge=0, le=3, description="Upsampling passes; finds smaller faces, costs time.")
    max_side_px: int = Field(1280, ge=160, le=8192, description="Images are shrunk to this longer side.")


DetectorSettings = Annotated[YuNetSettings | HogSettings, Field(discriminator="type")]


class QualitySettings(Section):
    min_face_px: int = Field(36, ge=8, le=1024, description="Smallest face side kept, in pixels.")
    min_score: float = Field(0.8, ge=0, le=1, description="Lowest detector score kept.")
    min_sharpness: float = Field(
        15.0, ge=0, le=10_000, description="Lowest variance of the Laplacian on the face (blur)."
    )
    max_yaw_deg: float = Field(50.0, gt=0, le=90, description="Largest left-right head turn kept.")
    max_roll_deg: float = Field(35.0, gt=0, le=90, description="Largest in-plane head tilt kept.")


class DlibResNetSettings(Section):
    type: Literal["dlib_resnet"] = "dlib_resnet"
    jitters: int = Field(
        0, ge=0, le=20, description="Random re-crops averaged per face; slower, slightly steadier."
    )


EmbedderSettings = Annotated[DlibResNetSettings, Field(discriminator="type")]
