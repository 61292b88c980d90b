"""The report command: one self-contained HTML page and its Markdown twin, made from run folders
alone (model runs, comparisons, cross-validations, tuning studies), and its check in a browser."""

from multimodal_genre.report.build import Report, write_report

__all__ = ["Report", "write_report"]
