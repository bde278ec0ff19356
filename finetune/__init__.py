"""SolSentry finetune: training data and LoRA fine-tuning of the review models."""
