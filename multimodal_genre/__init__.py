"""Music genre classification that fuses tabular audio features with mel-spectrogram images."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("multimodal-genre")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
