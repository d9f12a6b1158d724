"""AmDistill GPU trainer: supervised fine-tuning with the DeepDistill recipe (arXiv 2504.17565 §4)."""
