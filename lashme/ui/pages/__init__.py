"""One module per page; each holds its small state beside the page function."""
