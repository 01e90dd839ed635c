"""Reamo: grounded multimodal universal information extraction.

Dependency *ranges* live here so that a GPU user with their own torch/CUDA can install the package;
the exact pins that install together on our CI machine are in constraints.txt (see README).
"""
from setuptools import find_packages, setup

setup(
    name="reamo",
    version="0.1.0",
    description="Recognise, ground and extract entities, relations and events from text, images, audio and video",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["reamo*", "encoders*", "grounding*", "training*"]),
    package_data={"reamo": ["assets/*"]},
    include_package_data=True,
    install_requires=[
        "torch>=2.4",
        "torchvision>=0.19",
        "torchaudio>=2.4",
        "transformers>=4.46,<6",
        "peft>=0.15",
        "accelerate>=1.0",
        "deepspeed>=0.15",
        "segment-anything>=1.0",
        "safetensors>=0.4",
        "pyyaml>=6.0",
        "numpy>=1.24",
        "pillow>=10.0",
        "scipy>=1.10",
        "soundfile>=0.12",
        "decord>=0.6.0",
        "av>=12.0",
        "tqdm>=4.60",
        "matplotlib>=3.7",
        "gguf>=0.10",
        # phase data as streamed tar shards (reamo.builders, training's streaming reader); pycocotools: RefCOCO's
        # polygon and RLE masks
        "webdataset>=0.2.86",
        "pycocotools>=2.0.7",
        "pyarrow>=14",  # RefCOCO refs as parquet, as the Hugging Face copies hold them
        # the quickstart corpus's photographs (reamo/synth/photos.py): skimage.data, sklearn's sample images
        "scikit-image>=0.22",
        "scikit-learn>=1.3",
    ],
    extras_require={
        # test-only tools; the official ImageBind reference code (parity tests) is installed --no-deps
        # by scripts/install.sh, see requirements-reference.txt
        "dev": [
            "pytest>=8.0",
            "hypothesis>=6.100",
            "seqeval>=1.2.2",
            "timm>=1.0",
            "ftfy>=6.1",
            "regex>=2023.0",
            "iopath>=0.1.10",
            "einops>=0.7",
            "fvcore>=0.1.5.post20221221",
            "parameterized>=0.9",
            "networkx>=3.0",
            "pandas>=2.0",
            "setuptools<81",
            "playwright>=1.40",  # drives Debian's chromium in the demo's browser test
            "gradio>=5.0",
            # the exports read back by their ecosystems' own readers (tests/test_export.py)
            "pycocotools>=2.0.7",
            "pyannote.database>=5.0",
            "webvtt-py>=0.5",
            "motmetrics>=1.4",
            "label-studio-sdk>=1.0",
        ],
        "demo": ["gradio>=5.0"],  # `reamo demo`
        "export": ["label-studio-sdk>=1.0"],  # `--export labelstudio` writes image masks with its brush encoder
    },
    entry_points={"console_scripts": ["reamo=reamo.cli:main"]},
)
