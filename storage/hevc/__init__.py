"""H.265 at the bit level, nothing decoded: an RBSP read and written (rbsp), the parameter sets as far as a
slice header needs them (params), and a keyframe copied so that a decoder decodes it but does not show it
(hidden, design/0543). recorder/picture_size.py reads a picture's size with the same bits."""
