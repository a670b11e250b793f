import { useEffect, useState } from 'react';
import { Link, Navigate, NavLink, Route, Routes, useLocation } from 'react-router-dom';
import { useAuth } from './auth';
import { Loading } from './components/ui';
import Login from './pages/Login';
import ModelList from './pages/ModelList';
import ModelEdit from './pages/ModelEdit';
import Configurations from './pages/Configurations';
import ConfigurationDetail from './pages/ConfigurationDetail';
import DeployForm from './pages/DeployForm';
import Deployments from './pages/Deployments';
import DeploymentDetail from './pages/DeploymentDetail';
import ResultDetail from './pages/ResultDetail';
import Datasources from './pages/Datasources';
import Inferences from './pages/Inferences';
import InferenceForm from './pages/InferenceForm';
import Visualization from './pages/Visualization';
import Account from './pages/Account';
import Users from './pages/Users';

type NavItem = { section: string } | { to: string; label: string; staff?: boolean };

const NAV: readonly NavItem[] = [
  { section: 'Build' },
  { to: '/models', label: 'Models' },
  { to: '/configurations', label: 'Configurations' },
  { section: 'Train' },
  { to: '/deployments', label: 'Deployments & results' },
  { to: '/datasources', label: 'Datasources' },
  { section: 'Serve' },
  { to: '/inferences', label: 'Inferences' },
  { to: '/visualization', label: 'Visualization' },
  { section: 'Settings' },
  { to: '/account', label: 'Account' },
  { to: '/users', label: 'Users', staff: true },
];

export default function App() {
  const { user, checking, logout } = useAuth();
  const location = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  useEffect(() => setMenuOpen(false), [location.pathname]);

  if (checking) return <Loading what="Kafka-ML" />;
  if (!user) {
    if (location.pathname !== '/login') {
      const next = location.pathname + location.search;
      return <Navigate to={`/login${next && next !== '/' ? `?next=${encodeURIComponent(next)}` : ''}`} replace />;
    }
    return <Login />;
  }

  return (
    <div className="app">
      <header className="topbar">
        <button className="btn small menu-toggle" aria-label="Menu" onClick={() => setMenuOpen((o) => !o)}>☰</button>
        <Link to="/" className="brand">Kafka-ML</Link>
        <span className="spacer" />
        <Link to="/account" className="user" data-testid="username" title="Your account: password and API tokens">{user.username}</Link>
        <button className="btn small" onClick={() => logout()}>Log out</button>
      </header>
      <nav className={`sidebar${menuOpen ? ' open' : ''}`} aria-label="Main">
        {NAV.filter((item) => !('staff' in item && item.staff) || user.is_staff).map((item, i) =>
          'section' in item ? (
            <div className="section" key={i}>{item.section}</div>
          ) : (
            <NavLink key={item.to} to={item.to}>{item.label}</NavLink>
          ),
        )}
      </nav>
      <main>
        <Routes>
          <Route path="/" element={<Navigate to="/models" replace />} />
          <Route path="/login" element={<Navigate to={new URLSearchParams(location.search).get('next') || '/models'} replace />} />
          <Route path="/models" element={<ModelList />} />
          <Route path="/models/new" element={<ModelEdit />} />
          <Route path="/models/:id" element={<ModelEdit />} />
          <Route path="/configurations" element={<Configurations />} />
          <Route path="/configurations/:id" element={<ConfigurationDetail />} />
          <Route path="/configurations/:id/deploy" element={<DeployForm />} />
          <Route path="/deployments" element={<Deployments />} />
          <Route path="/deployments/:id" element={<DeploymentDetail />} />
          <Route path="/results/:id" element={<ResultDetail />} />
          <Route path="/results/:id/inference" element={<InferenceForm />} />
          <Route path="/datasources" element={<Datasources />} />
          <Route path="/inferences" element={<Inferences />} />
          <Route path="/visualization" element={<Visualization />} />
          <Route path="/account" element={<Account />} />
          <Route path="/users" element={<Users />} />
          <Route path="*" element={<div className="card">Nothing here. <Link to="/models">Go to models</Link>.</div>} />
        </Routes>
      </main>
    </div>
  );
}
