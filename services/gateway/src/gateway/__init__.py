"""The gateway: the one HTTP entry behind nginx."""
