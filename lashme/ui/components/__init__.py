"""Stateless pieces shared by pages."""
