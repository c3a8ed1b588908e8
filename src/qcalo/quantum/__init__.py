"""qcalo.quantum"""
