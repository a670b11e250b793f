"""Control logger: registers every data stream announced on the control topic."""
