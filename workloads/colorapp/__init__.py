"""colorapp: answers with the color it was configured with (env COLOR)."""
