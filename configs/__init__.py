"""The YAML defaults in the top-level configs/ folder, installed as multimodal_genre.configs."""
