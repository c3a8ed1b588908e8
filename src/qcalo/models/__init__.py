"""qcalo.models"""
