"""SenseKit networks: the two streaming backbones and their heads."""

from __future__ import annotations

from rtnet.models.backbones import (
    BACKBONES,
    EFFICIENTNET,
    FEATURES,
    MOBILENET_V2,
    STEP,
    BackboneName,
    Precision,
    StreamingBackbone,
    StridedInflatedEfficientNet,
    StridedInflatedMobileNetV2,
    backbone_signature,
    bf16_supported,
    build_backbone,
)
from rtnet.models.heads import (
    HEAD_KINDS,
    Head,
    HeadKind,
    LogisticRegression,
    METRegressor,
    build_head,
    head_signature,
    make_head,
)
from rtnet.models.layers import ConvReLU, InvertedResidual, TemporalConv

Backbone = StreamingBackbone

__all__ = [
    "BACKBONES",
    "EFFICIENTNET",
    "FEATURES",
    "HEAD_KINDS",
    "MOBILENET_V2",
    "STEP",
    "Backbone",
    "BackboneName",
    "ConvReLU",
    "Head",
    "HeadKind",
    "InvertedResidual",
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
    "head_signature",
    "make_head",
]
