"""Custom classifiers: record clips, extract features, train a temporal head, run it live."""
