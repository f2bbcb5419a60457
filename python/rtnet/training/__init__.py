"""Custom classifiers: record clips, extract features, train a temporal head, run it live."""

# Here, not in train.py, so that the CLI can show it without importing torch.
DEFAULT_EPOCHS = 100
DEFAULT_CONTEXT = 2.0  # seconds a custom classifier's head sees at once
