"""The one frozen `Settings` object, built at the composition root and passed down."""
