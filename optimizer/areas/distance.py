"""Distances between units and bases, in kilometres."""

from __future__ import annotations

import numpy as np

EARTH_RADIUS_KM = 6371.0088


def great_circle_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Haversine distance in km; arrays broadcast against each other."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(lon2) - np.radians(lon1)
    h = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def distance_matrix_km(
    unit_lat: np.ndarray, unit_lon: np.ndarray, unit_xy: np.ndarray,
    base_lat: np.ndarray, base_lon: np.ndarray, base_xy: np.ndarray, kind: str,
) -> np.ndarray:
    """Units x bases distance matrix: ``great_circle`` or ``projected`` (EPSG:5070 straight line)."""
    if kind == "projected":
        diff = unit_xy[:, None, :] - base_xy[None, :, :]
        return np.hypot(diff[..., 0], diff[..., 1]) / 1000.0
    return great_circle_km(unit_lat[:, None], unit_lon[:, None], base_lat[None, :], base_lon[None, :])
