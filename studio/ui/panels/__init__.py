"""The studio's panels, one per tab: each shows state and posts jobs; none holds an algorithm."""
