"""qcalo.train"""
