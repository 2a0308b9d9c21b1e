"""The models: one module per paper section, each reading like it, each borrowing its solvers from
``jaxtrade.engine``. Models import engines (and, without cycles, other models); never a face."""
