"""Media encoders: loading and preprocessing (image, audio, video) and the ImageBind towers."""
from encoders.config import ImageBindConfig
from encoders.imagebind import EncoderOutput, ImageBindEncoder, ImageBindModel, load_imagebind_checkpoint

__all__ = ["ImageBindConfig", "ImageBindEncoder", "ImageBindModel", "EncoderOutput", "load_imagebind_checkpoint"]
