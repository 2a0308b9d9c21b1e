"""The engines: solvers that know no paper.

``distributions`` (cost and productivity laws), ``rng`` (firms' counter-based uniforms), ``production``
(the firm's sequential-production problem), ``simulate`` (the Monte Carlo of firms, one chunk runner),
``selection`` (heterogeneous-firm selection and free entry), ``quadrature`` (integrals over a
distribution's tail) and ``validation`` (input checks). Engines import nothing from ``jaxtrade.models``,
``jaxtrade.calibration`` or ``jaxtrade.cli``.
"""
