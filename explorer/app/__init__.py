"""What the desktop app does, without drawing it: the render engine it drives, what it knows of the model,
background tasks, recording, projecting, the recent list. No Dear PyGui here: widgets/ draws and forwards."""
