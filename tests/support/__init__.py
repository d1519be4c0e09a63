"""Plain helpers shared by test folders; imported as modules. Fixtures live in tests/fixtures."""
