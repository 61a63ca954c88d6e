"""Offline Leaflet maps (folium) over tidy tables: never imports pyomo or highspy."""
