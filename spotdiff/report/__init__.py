"""The static HTML report of a dataset (`spotdiff report`): summary, plots, gallery, rejects."""
