"""SenseKit networks: the two streaming backbones and their heads."""

from __future__ import annotations

from rtnet.models.backbones import (
    BACKBONES,
    EFFICIENTNET,
    FEATURES,
    MOBILENET_V2,
    BackboneName,
    Precision,
    StreamingBackbone,
    StridedInflatedEfficientNet,
    StridedInflatedMobileNetV2,
    backbone_signature,
    bf16_supported,
)
from rtnet.models.heads import (
    HEAD_KINDS,
    Head,
    HeadKind,
    LogisticRegression,
    METRegressor,
    head_signature,
    make_head,
)
from rtnet.models.landmarks import LandmarkModelName, LandmarkNetwork, build_landmark_model
from rtnet.models.layers import ConvReLU, InvertedResidual, TemporalConv
from rtnet.models.loading import build_backbone, build_head, load_checkpoint

Backbone = StreamingBackbone

__all__ = [
    "BACKBONES",
    "EFFICIENTNET",
    "FEATURES",
    "HEAD_KINDS",
    "MOBILENET_V2",
    "Backbone",
    "BackboneName",
    "ConvReLU",
    "Head",
    "HeadKind",
    "InvertedResidual",
    "LandmarkModelName",
    "LandmarkNetwork",
    "LogisticRegression",
    "METRegressor",
    "Precision",
    "StreamingBackbone",
    "StridedInflatedEfficientNet",
    "StridedInflatedMobileNetV2",
    "TemporalConv",
    "backbone_signature",
    "bf16_supported",
    "build_backbone",
    "build_head",
    "build_landmark_model",
    "head_signature",
    "load_checkpoint",
    "make_head",
]
