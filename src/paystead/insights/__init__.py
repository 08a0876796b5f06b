"""The optimization framework: KPIs, the phased targets of the launch framework, SLOs."""
