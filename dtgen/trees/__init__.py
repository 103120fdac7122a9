"""Device trees read: the base tree a board names (checked against the board at validate, cached
per file and includes) and the tree `dtgen import` turns into a board file. Whole trees go
through cpp and dtc into a blob read with pylibfdt or dtgen's own reader (`fdt.py`); small
fragments through pydevicetree (`source.py`)."""
