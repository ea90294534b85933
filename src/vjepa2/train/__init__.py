"""Training: attentive-probe fine-tuning and self-supervised pretraining."""
