"""Geographic units shared by alignment and joint sizing: the unit table, ids, distances, adjacency, bases."""
