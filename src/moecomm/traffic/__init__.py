"""EP and TP traffic per rank.

- ``balanced``: the closed forms under balanced routing (``ep``, ``tp``, ``compare``);
- ``expected``: exact expectations under uniform top-k routing (dedup, node limits, capacity,
  imbalance);
- ``from_data``: exact counts from routing data (expert counts, top-k ids, sampled Zipf);
- ``eplb``: EPLB-style replication and packing of hot experts;
- ``matrices``: rank × rank copy matrices and expert placements;
- ``files``: reading routing data and writing matrices;
- ``result``: the one result type every routing-aware scenario ends in.
"""
