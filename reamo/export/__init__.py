"""What a result is written as: pictures for people (`visualize`)."""
