"""Model parts (backbones, necks, heads and what heads carry) and the PoseModel that joins them."""
