"""The test suite, one package so every module has one import name (``tests.api.test_me_get``)."""
