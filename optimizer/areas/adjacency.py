"""Unit adjacency from polygons (Queen: sharing a border or a corner), plus declared links."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from optimizer.areas.unit_ids import unknown_unit


def queen_adjacency(frame: gpd.GeoDataFrame, links: list[tuple[str, str]] = ()) -> list[np.ndarray]:
    """Neighbour indices per unit (in ``frame`` order), from touching polygons and declared ``links``."""
    geoms = frame.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left != right
    left, right = left[keep], right[keep]
    index = {uid: i for i, uid in enumerate(frame["unit_id"])}
    extra = []
    for a, b in links:
        for uid in (a, b):
            if uid not in index:
                raise unknown_unit("contiguity.links", uid, index, "link two unit ids of the data set")
        extra += [(index[a], index[b]), (index[b], index[a])]
    if extra:
        pairs = np.asarray(extra)
        left, right = np.concatenate([left, pairs[:, 0]]), np.concatenate([right, pairs[:, 1]])
    order = np.lexsort((right, left))
    left, right = left[order], right[order]
    bounds = np.searchsorted(left, np.arange(len(frame) + 1))
    return [np.unique(right[bounds[i]: bounds[i + 1]]) for i in range(len(frame))]


def components(members: np.ndarray, neighbours: list[np.ndarray]) -> list[np.ndarray]:
    """Connected components of the sub-graph induced by ``members`` (unit indices)."""
    inside = set(members.tolist())
    seen: set[int] = set()
    found = []
    for start in members.tolist():
        if start in seen:
            continue
        stack, part = [start], []
        seen.add(start)
        while stack:
            node = stack.pop()
            part.append(node)
            for nxt in neighbours[node].tolist():
                if nxt in inside and nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        found.append(np.asarray(sorted(part)))
    return found
