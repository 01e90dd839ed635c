"""Grounding heads: image segmentation (SAM), audio segmentation (SHAS-style), video tracking."""
from grounding.config import AudioHeadConfig, GroundingConfig, ImageHeadConfig, VideoHeadConfig
from grounding.heads import MODALITY_MODULE, MODULES, GroundingHeads, GroundingLosses, GroundingRequest
from grounding.types import AudioGrounding, GroundingFailure, ImageGrounding, VideoFrameGrounding, VideoGrounding

__all__ = ["GroundingConfig", "ImageHeadConfig", "AudioHeadConfig", "VideoHeadConfig", "GroundingHeads",
           "GroundingRequest", "GroundingLosses", "MODULES", "MODALITY_MODULE", "ImageGrounding", "AudioGrounding",
           "VideoGrounding", "VideoFrameGrounding", "GroundingFailure"]
