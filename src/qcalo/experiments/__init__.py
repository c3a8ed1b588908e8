"""qcalo.experiments"""
