"""The local web viewer: live view and granted playback over WebRTC (aiortc), watch without a copy."""
