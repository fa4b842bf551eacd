"""Hands the pytest session to the dkimwatch plugin: `pytest` here audits ./domains.yaml."""

pytest_plugins = ["dkimwatch.plugin"]
