"""front: asks colorapp for its color and passes the answer on."""
